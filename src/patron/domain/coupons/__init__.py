"""Coupons: codes people type and nobody guesses, and the rules a coupon is checked against."""
