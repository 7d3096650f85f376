"""The gold layer: business metrics computed from silver current state (``model.GoldMetric``),
with PII masked (``masking``). Each dataset declares its metrics in
``lakehouse/datasets/<dataset>/gold.py`` (``METRICS``); ``defs.gold`` turns them into assets."""

from lakehouse.gold.masking import mask_email, mask_email_expr, mask_phone, mask_phone_expr
from lakehouse.gold.model import GoldMetric

__all__ = ["GoldMetric", "mask_email", "mask_email_expr", "mask_phone", "mask_phone_expr"]
