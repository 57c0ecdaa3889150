from ninja import NinjaAPI

api = NinjaAPI(title="Patron API", version="1", urls_namespace="api")
