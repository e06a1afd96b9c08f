"""tracker: ``order.placed`` + SUNSKY callbacks + a sweep -> Processing, Shipped, Delivered or
Cancelled, with ``order.shipped``/``order.delivered``/``order.cancelled`` for Perfex."""
