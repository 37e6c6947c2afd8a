"""Tests of the 车窗抛物 (littering) package."""
