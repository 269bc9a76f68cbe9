"""The capstone's inventory."""
