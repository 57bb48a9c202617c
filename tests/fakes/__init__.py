"""Local stand-ins for payment providers, following their documented APIs (see each module)."""
