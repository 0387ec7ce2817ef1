"""relationship"""
