"""The DPO's documents: the record of processing (GDPR art. 30) and a DPIA draft
(art. 35), generated from the catalog in the database, the settings and the channels
in use. Built as plain data by pure functions (``record_of_processing.py``,
``dpia.py``), rendered apart (``record_render.py``); ``reconsent record export`` and
``reconsent dpia draft`` are the I/O."""
