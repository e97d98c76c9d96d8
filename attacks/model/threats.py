"""The budgets model attacks share in their threat cards, worded once.

Every model attack is grey-box: its adversary owns the released weights (and knows the architecture),
but not the fingerprinting method's decoder or keys.
"""

#: the quality at which a model attack counts: FID is measured beside every row of the stage
FID_BUDGET = "FID < 2x the unattacked model's (reported beside every row)"
#: what the training attacks fine-tune on
CLEAN_DATA = "clean real images (the run's training split, never fingerprinted)"
#: the attacks that need nothing but the weights
NO_DATA = "none (the weights only)"
