"""The course's own tooling: the command line, the doctor, the lab generator and checks, the table of
contents, and the upstream tool wrappers."""
