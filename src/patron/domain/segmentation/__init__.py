"""Segmentation in the pure core: indicators, classifications, RFM, lifecycle, churn and lifetime value."""
