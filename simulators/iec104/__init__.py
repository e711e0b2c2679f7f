"""IEC 60870-5-104 outstation simulator built on c104 (lib60870), behind a fault-injecting front."""
