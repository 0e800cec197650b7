"""Reading images from disk and pairing folders of them."""
