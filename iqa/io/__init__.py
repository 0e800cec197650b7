"""Reading images from disk and pairing folders of them.

:mod:`iqa.io.images` (``load_image`` and its policies), :mod:`iqa.io.decode` (format
identification, header checks, decoding), :mod:`iqa.io.files` (regular files only),
:mod:`iqa.io.jpeg_check` (libjpeg's corrupt-data warnings), :mod:`iqa.io.pairing`
(folder listing and pairing).
"""
