"""SCAN (Lake & Baroni 2018): commands to action sequences, generated exactly from its
grammar (:mod:`.grammar`), on its length splits (:mod:`.scan`)."""
