"""LTI 1.3 Advantage: login, hardened launch validation, deep linking, registration, services."""
