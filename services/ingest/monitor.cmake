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
