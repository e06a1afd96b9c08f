"""The notifier: order updates back to the Perfex module's signed webhook (issue 11)."""
