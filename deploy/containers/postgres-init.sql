-- Each service owns its database (intake is made by POSTGRES_DB).
CREATE DATABASE consent OWNER hybrid;
CREATE DATABASE registry OWNER hybrid;
CREATE DATABASE notify OWNER hybrid;
