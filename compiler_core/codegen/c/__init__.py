"""A small structured C builder: statement tree (:mod:`.stmt`), affine indices
(:mod:`.affine`), one parallel policy (:mod:`.policy`), one printer (:mod:`.printer`) and the
fixed runtime text as resource files (:mod:`.source`)."""
