"""The capstone's load."""
