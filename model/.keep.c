/* model layer (sources land here) */
