"""The demo sign-ins that `make run` creates and prints: one per role."""

DEMO_PASSWORD = "patron-demo"

# username, role, team
DEMO_USERS: list[tuple[str, str, str | None]] = [
    ("admin", "admin", None),
    ("manager", "sales_manager", "South"),
    ("sales", "salesperson", "South"),
    ("sales2", "salesperson", "South"),
    ("sales3", "salesperson", "North"),
    ("manager2", "sales_manager", "North"),
    ("finance", "finance", None),
    ("marketing", "marketing", None),
]
