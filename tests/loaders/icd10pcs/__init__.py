"""Tests for the icd10pcs parsers."""
