"""The exercise's fields (service/fields.py, written from its recipe)."""
