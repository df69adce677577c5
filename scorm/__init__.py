"""scorm package."""
