"""lassodrop: the code shared by the Lambda functions (packaged as the Lambda layer)."""
