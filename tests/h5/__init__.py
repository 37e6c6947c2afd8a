"""Tests of the citizen H5 pages."""
