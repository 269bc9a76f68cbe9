"""The capstone's orders."""
