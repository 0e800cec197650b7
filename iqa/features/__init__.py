"""Networks that turn images into features: the FID Inception (pool3), LPIPS backbones."""
