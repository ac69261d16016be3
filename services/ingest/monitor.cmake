# monitor.cmake — per-partition consumer lag and retention (scenario 9a) detection, and the
# failure-scenario integration tests: library autostage_ingest_monitor (header
# services/ingest/partition_monitor.h), linked into autostage_ingest.
autostage_library(autostage_ingest_monitor
  SOURCES partition_monitor.cc
  DEPS autostage_ingest_core autostage_kafka autostage_log prometheus-cpp::core absl::status
       absl::statusor absl::time absl::synchronization Threads::Threads)
if(TARGET autostage_ingest)
  target_link_libraries(autostage_ingest PUBLIC autostage_ingest_monitor)
endif()

autostage_test(ingest_partition_monitor_test
  SOURCES partition_monitor_test.cc
  DEPS autostage_ingest_monitor)

if(TARGET autostage_testing)
  autostage_test(ingest_partition_monitor_kafkatest
    SOURCES partition_monitor_kafkatest.cc
    DEPS autostage_ingest_monitor autostage_testing prometheus-cpp::core
    LABELS kafka
    TIMEOUT 180)
endif()

# Failure scenarios 4 and 9a with IngestService, the devbroker, redis-server and review.
if(TARGET autostage_ingest AND TARGET autostage_ingest_state AND TARGET autostage_testing
   AND TARGET autostage_review)
  autostage_test(ingest_scenarios_kafkatest
    SOURCES ingest_scenarios_kafkatest.cc
    DEPS autostage_ingest autostage_ingest_state autostage_review autostage_testing
         autostage_normalize autostage_extract prometheus-cpp::core
    LABELS kafka redis
    TIMEOUT 600)
endif()

autostage_test(ingest_metrics_test
  SOURCES ingest_metrics_test.cc
  DEPS autostage_ingest_core prometheus-cpp::core)
