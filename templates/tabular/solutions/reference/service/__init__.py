"""The reference service of a table exercise, driven by service/fields.py (written from the recipe)."""
