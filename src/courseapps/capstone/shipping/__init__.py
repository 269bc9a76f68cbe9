"""The capstone's shipping."""
