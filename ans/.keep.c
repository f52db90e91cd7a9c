/* ans layer (sources land here) */
