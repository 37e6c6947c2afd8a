"""Tests of the staff console pages."""
