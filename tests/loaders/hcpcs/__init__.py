"""Tests for the hcpcs parsers."""
