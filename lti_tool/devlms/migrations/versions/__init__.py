"""Migration scripts of the development LMS's tables."""
