"""nlu_review"""
