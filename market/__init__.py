"""The marketplace: model challenges (``challenge``), verified off-chain inference
(``verify``), their ABI plumbing (``abi``) and the ``ml2sc market`` / ``ml2sc verify``
commands (``cli``)."""
