# service.cmake — the consumer loop, partition queue, offset tracker, metrics and config:
# libraries autostage_ingest_core (transport-free parts) and autostage_ingest (IngestService,
# which tests start in-process), and the binary autostage-ingest.
autostage_library(autostage_ingest_core
  SOURCES partition_queue.cc offset_tracker.cc ingest_metrics.cc ingest_config.cc
  DEPS autostage_config autostage_status prometheus-cpp::core absl::status absl::statusor
       absl::strings absl::time absl::synchronization Threads::Threads)

autostage_test(ingest_partition_queue_test
  SOURCES partition_queue_test.cc
  DEPS autostage_ingest_core)
autostage_test(ingest_offset_tracker_test
  SOURCES offset_tracker_test.cc
  DEPS autostage_ingest_core)
autostage_test(ingest_config_test
  SOURCES ingest_config_test.cc
  DEPS autostage_ingest_core)

# The service needs the client (client.cmake) and state (common/crmstate, state.cmake) parts.
if(TARGET autostage_ingest_client AND TARGET autostage_crmstate)
  autostage_library(autostage_ingest
    SOURCES ingest_service.cc
    DEPS autostage_ingest_core autostage_ingest_client autostage_crmstate autostage_rules
         autostage_event autostage_kafka autostage_log autostage_metrics autostage_status
         absl::status absl::statusor absl::strings absl::time absl::synchronization)
endif()

if(TARGET autostage_ingest AND TARGET autostage_ingest_state)
  add_executable(autostage-ingest main.cc)
  target_compile_options(autostage-ingest PRIVATE ${AUTOSTAGE_WARNINGS})
  target_link_libraries(autostage-ingest PRIVATE autostage_ingest autostage_ingest_state
    autostage_metrics autostage_normalize autostage_extract prometheus-cpp::core CLI11::CLI11)
endif()

if(TARGET autostage_ingest AND TARGET autostage_ingest_state AND TARGET autostage_testing
   AND TARGET autostage_review)
  autostage_test(ingest_service_kafkatest
    SOURCES ingest_service_kafkatest.cc
    DEPS autostage_ingest autostage_ingest_state autostage_review autostage_testing
         autostage_normalize autostage_extract prometheus-cpp::core
    LABELS kafka redis
    TIMEOUT 600)
endif()
