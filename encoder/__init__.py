"""The sentence encoder both virtualenvs run (encoder/minilm.py)."""
