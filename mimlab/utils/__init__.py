"""Helpers at the bottom of the layers: they import no other part of mimlab."""
