"""Learner attempts and the SCORM runtime API, server side (the authority on every value)."""
