from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "gatehouse.directory"
    label = "directory"
    verbose_name = "Directory"
