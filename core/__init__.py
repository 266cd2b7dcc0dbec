"""Shared, dependency-free foundations: settings, errors, vocabulary and safe image I/O (imported by every layer)."""
