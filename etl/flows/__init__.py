"""What the DAGs do, as plain functions (usable and testable without Airflow), plus the one
module that builds DAGs from them (:mod:`etl.flows.dag_factory`)."""
