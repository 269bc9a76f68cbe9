"""The capstone's notifications."""
