/* codec layer (sources land here) */
