"""NCCI edits (CMS, quarterly): procedure-to-procedure (PTP) pairs and medically unlikely edits (MUE)."""
