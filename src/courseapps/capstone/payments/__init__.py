"""The capstone's payments."""
