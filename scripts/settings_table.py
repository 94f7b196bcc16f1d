"""Print the configuration table of the README from the Settings model.

.venv/bin/python scripts/settings_table.py
"""

from __future__ import annotations

from reconsent.settings import Settings


def main() -> None:
    print("| environment variable | default | meaning |")
    print("|---|---|---|")
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "(unset)" if default in (None, [], {}) else f"`{default}`"
        text = (field.description or "").replace("|", "\\|").replace("\n", " ")
        print(f"| `RECONSENT_{name.upper()}` | {shown} | {text} |")


if __name__ == "__main__":
    main()
