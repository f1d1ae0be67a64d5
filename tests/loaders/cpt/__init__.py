"""Tests for the cpt parsers."""
