"""CSV imports: contacts, consent history and suppression lists.

Each importer streams its file in batches of about 1,000 rows (one transaction
each), reports refused rows by line number with a reason that never quotes
personal data, imports the good rows, and changes nothing when the same file
is imported again.  A bad header raises ``ConfigError`` before anything is
imported.  The row parsers in ``reconsent.imports.rows`` are pure.
"""

from reconsent.imports.consents import import_consents as import_consents
from reconsent.imports.contacts import import_contacts as import_contacts
from reconsent.imports.report import ImportReport as ImportReport
from reconsent.imports.report import RowError as RowError
from reconsent.imports.suppressions import import_suppressions as import_suppressions

__all__ = ["ImportReport", "RowError", "import_consents", "import_contacts", "import_suppressions"]
